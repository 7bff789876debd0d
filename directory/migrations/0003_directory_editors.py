"""The "Directory editors" group: may view, add and change every directory model, never delete
(an entry is retired by its status)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_group(apps, schema_editor):
    # Permissions are normally made after all migrations; make them now so the group gets them.
    app_config = apps.get_app_config("directory")
    app_config.models_module = True  # the historical stub has none; create_permissions needs one
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Directory editors")
    permissions = Permission.objects.filter(content_type__app_label="directory").exclude(
        codename__startswith="delete_"
    )
    group.permissions.add(*permissions)


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Directory editors").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0002_vocabularies"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_group, remove_group)]
