from django.db import migrations

# The role groups (referrals/permissions.py). "Directory editors" is also created by the directory
# app; get_or_create by name so whichever migration runs first wins and neither fails.
ROLE_GROUPS = ["Clinicians", "Health trainers", "Team leads", "Directory editors", "Managers"]


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLE_GROUPS:
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("referrals", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
