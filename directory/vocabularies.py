"""Flourish's built-in vocabularies, installed by a data migration (and safe to reinstall).

Ids are fixed UUIDs (uuid5 of the code) so every installation, export and import agrees on them.
"""

import uuid

NAMESPACE = uuid.UUID("6f1c1a52-9d0e-4c39-9b8e-3c5a1f0f2a11")

# (code, name, plain-language label for residents, description)
NEEDS = [
    (
        "loneliness",
        "Loneliness and isolation",
        "Feeling lonely",
        "Meeting people, friendship, befriending and social groups.",
    ),
    (
        "mental-wellbeing",
        "Mental wellbeing",
        "Feeling low or anxious",
        "Support for low mood, stress and anxiety; talking and peer groups.",
    ),
    (
        "physical-activity",
        "Physical activity",
        "Get more active",
        "Walking groups, gentle exercise, sport and dance.",
    ),
    (
        "healthy-eating",
        "Healthy eating and weight",
        "Eat well",
        "Cooking, healthy eating and weight management.",
    ),
    (
        "money-debt",
        "Money and debt",
        "Money worries",
        "Debt advice, benefits checks and help with bills.",
    ),
    (
        "housing",
        "Housing",
        "Housing problems",
        "Help with housing, tenancy, repairs and homelessness.",
    ),
    (
        "employment-skills",
        "Employment and skills",
        "Work and learning",
        "Finding work, volunteering, training and adult learning.",
    ),
    (
        "carers",
        "Carers",
        "Looking after someone",
        "Support for people who care for a family member or friend.",
    ),
    ("bereavement", "Bereavement", "Losing someone", "Support after the death of someone close."),
    (
        "long-term-conditions",
        "Long-term conditions",
        "Living with a condition",
        "Self-management and peer support for long-term health conditions.",
    ),
    (
        "digital-skills",
        "Digital skills",
        "Get online",
        "Help to get online, use a phone or computer and the NHS App.",
    ),
    (
        "arts-creativity",
        "Arts and creativity",
        "Arts and crafts",
        "Art, music, singing, crafts and creative groups.",
    ),
    (
        "nature-green-space",
        "Nature and green space",
        "Get outdoors",
        "Gardening, conservation and time in green spaces.",
    ),
    (
        "peer-support",
        "Peer support",
        "Talk to people like me",
        "Groups run by and for people with shared experience.",
    ),
    ("food", "Food", "Food and essentials", "Food banks, community pantries and shared meals."),
    (
        "smoking-alcohol",
        "Smoking and alcohol",
        "Smoking or drinking",
        "Help to stop smoking or cut down on drinking.",
    ),
    (
        "parenting-family",
        "Parenting and family",
        "Family life",
        "Support for parents, families and young children.",
    ),
    ("older-people", "Older people", "Later life", "Activities and support for older people."),
    ("volunteering", "Volunteering", "Help others", "Ways to give time and help in the community."),
    (
        "domestic-abuse",
        "Domestic abuse",
        "Feeling unsafe at home",
        "Confidential support for people experiencing abuse.",
    ),
    (
        "legal-advice",
        "Legal and welfare advice",
        "Advice and rights",
        "Free advice about rights, immigration, consumer and legal problems.",
    ),
]

DIGITAL_OFFERS = [
    ("free-wifi", "Free wifi", "Free wifi", "Free wifi to use on site."),
    ("device-loan", "Device loans", "Borrow a device", "Borrow a tablet, laptop or phone."),
    (
        "free-data",
        "Free SIM and data",
        "Free mobile data",
        "Free SIM cards and mobile data through the National Databank.",
    ),
    (
        "digital-skills-course",
        "Digital skills courses",
        "Learn to use the internet",
        "Courses such as Learn My Way.",
    ),
    (
        "nhs-app-help",
        "Help with the NHS App",
        "Help with the NHS App",
        "Set up and use the NHS App.",
    ),
    (
        "gp-online-help",
        "Help with GP online services",
        "Book GP appointments online",
        "Order repeat prescriptions and book appointments online.",
    ),
    ("public-computers", "Public computers", "Use a computer", "Computers free to use."),
    (
        "one-to-one-help",
        "One-to-one help",
        "One-to-one help",
        "A volunteer or digital champion helps you one to one.",
    ),
    ("printing", "Printing and scanning", "Printing", "Print, scan or copy documents."),
]

TAXONOMIES = [
    (
        "flourish-needs",
        "Social prescribing needs",
        "What matters to a person: the needs a service helps with.",
        NEEDS,
    ),
    (
        "flourish-digital-inclusion",
        "Digital inclusion offers",
        "What an online centre offers.",
        DIGITAL_OFFERS,
    ),
]


def taxonomy_id(slug: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, slug)


def term_id(taxonomy_slug: str, code: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{taxonomy_slug}/{code}")


def install(Taxonomy, TaxonomyTerm) -> None:
    """Create or update the built-in vocabularies; safe to run again."""
    for slug, name, description, terms in TAXONOMIES:
        taxonomy, _ = Taxonomy.objects.update_or_create(
            id=taxonomy_id(slug),
            defaults={"slug": slug, "name": name, "description": description, "version": "1"},
        )
        for position, (code, term_name, plain, term_description) in enumerate(terms):
            TaxonomyTerm.objects.update_or_create(
                id=term_id(slug, code),
                defaults={
                    "taxonomy": taxonomy,
                    "code": code,
                    "name": term_name,
                    "plain_label": plain,
                    "description": term_description,
                    "position": position,
                },
            )
