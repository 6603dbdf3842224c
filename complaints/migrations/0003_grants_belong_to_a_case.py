"""Every grant belongs to a case and the approved request behind it (its own transaction on
PostgreSQL, after 0002 removed grants made outside a case)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("complaints", "0002_complaint_cases")]

    operations = [
        migrations.AlterField(
            model_name="accessgrant",
            name="case",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="grants",
                to="complaints.complaintcase",
            ),
        ),
        migrations.AlterField(
            model_name="accessgrant",
            name="request",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="grant",
                to="complaints.accessrequest",
            ),
        ),
    ]
