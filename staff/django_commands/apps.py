from django.apps import AppConfig


class StaffCommandsConfig(AppConfig):
    name = "staff.django_commands"
    label = "staff_commands"
    verbose_name = "Staff: Django's account commands, ledgered"
