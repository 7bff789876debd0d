"""National help that editors keep (Helpline), signposted when a search finds nothing nearby,
seeded with NHS 111 and a few well-known national helplines and, for Scotland and Wales, their
national directories of local services. Directory editors may view, add and change them."""

from django.db import migrations, models

E, S, W, N = "england", "scotland", "wales", "northern_ireland"
ALL = (E, S, W, N)

# (order, name, kind, description, phone, text, url, nations)
SEED = [
    (
        10,
        "NHS 111",
        "helpline",
        "Urgent medical help that is not an emergency, day or night.",
        "111",
        "",
        "https://111.nhs.uk",
        (E,),
    ),
    (
        10,
        "NHS 111 Wales",
        "helpline",
        "Urgent medical help and health advice, day or night.",
        "111",
        "",
        "https://111.wales.nhs.uk",
        (W,),
    ),
    (
        10,
        "NHS 24",
        "helpline",
        "Urgent medical help when your GP practice is closed.",
        "111",
        "",
        "https://www.nhs24.scot",
        (S,),
    ),
    (
        20,
        "Samaritans",
        "helpline",
        "Someone to talk to, any time, about anything.",
        "116 123",
        "",
        "https://www.samaritans.org",
        ALL,
    ),
    (
        30,
        "Shout",
        "helpline",
        "Free, confidential text support, any time.",
        "",
        "Text SHOUT to 85258",
        "https://giveusashout.org",
        ALL,
    ),
    (
        40,
        "Breathing Space",
        "helpline",
        "Listening and advice if you are feeling low.",
        "0800 83 85 87",
        "",
        "https://breathingspace.scot",
        (S,),
    ),
    (
        50,
        "Citizens Advice Adviceline",
        "helpline",
        "Free advice on money, benefits, housing and work.",
        "0800 144 8848",
        "",
        "https://www.citizensadvice.org.uk",
        (E,),
    ),
    (
        50,
        "Citizens Advice Advicelink Cymru",
        "helpline",
        "Free advice on money, benefits, housing and work.",
        "0800 702 2020",
        "",
        "https://www.citizensadvice.org.uk/wales/",
        (W,),
    ),
    (
        50,
        "Citizens Advice Scotland",
        "helpline",
        "Free advice on money, benefits, housing and work.",
        "0800 028 1456",
        "",
        "https://www.cas.org.uk",
        (S,),
    ),
    (
        60,
        "Age UK Advice Line",
        "helpline",
        "Information and advice for older people.",
        "0800 678 1602",
        "",
        "https://www.ageuk.org.uk",
        (E,),
    ),
    (
        5,
        "ALISS",
        "directory",
        "Scotland's national directory of local health and wellbeing support.",
        "",
        "",
        "https://www.aliss.org",
        (S,),
    ),
    (
        5,
        "DEWIS Cymru",
        "directory",
        "Wales' national directory of wellbeing services.",
        "",
        "",
        "https://www.dewis.wales",
        (W,),
    ),
]


def seed(apps, schema_editor):
    Helpline = apps.get_model("directory", "Helpline")
    for order, name, kind, description, phone, text, url, nations in SEED:
        Helpline.objects.get_or_create(
            name=name,
            defaults=dict(
                order=order,
                kind=kind,
                description=description,
                phone=phone,
                text=text,
                url=url,
                **{nation: nation in nations for nation in ALL},
            ),
        )


def grant_editors(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("directory")
    app_config.models_module = True  # as in 0003: the historical stub has none
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Directory editors")
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="directory", content_type__model="helpline"
        ).exclude(codename__startswith="delete_")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0009_harvest"),
    ]

    operations = [
        migrations.CreateModel(
            name="Helpline",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=120)),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("helpline", "Helpline"),
                            ("directory", "National directory of local services"),
                        ],
                        default="helpline",
                        max_length=10,
                    ),
                ),
                ("description", models.CharField(blank=True, max_length=300)),
                (
                    "phone",
                    models.CharField(
                        blank=True, help_text="As it should be dialled.", max_length=30
                    ),
                ),
                (
                    "text",
                    models.CharField(
                        blank=True, help_text='e.g. "Text SHOUT to 85258".', max_length=60
                    ),
                ),
                ("url", models.URLField(blank=True)),
                ("england", models.BooleanField(default=True)),
                ("scotland", models.BooleanField(default=True)),
                ("wales", models.BooleanField(default=True)),
                ("northern_ireland", models.BooleanField(default=True)),
                (
                    "order",
                    models.PositiveSmallIntegerField(default=100, help_text="Lower comes first."),
                ),
                ("active", models.BooleanField(default=True)),
            ],
            options={
                "ordering": ["order", "name"],
            },
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
        migrations.RunPython(grant_editors, migrations.RunPython.noop),
    ]
