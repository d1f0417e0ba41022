"""``painflow``: the operator's command line (click). See the README, "For ops".

Where things are: the broker from ``KAFKA_BOOTSTRAP_SERVERS`` (and the other ``KAFKA_*``
settings the services read); each service at ``PAINFLOW_<SERVICE>_URL`` (default
``http://127.0.0.1:8001`` ... ``8004``, as ``make run`` starts them); each service's database as
the service finds it (``<SERVICE>_DATABASE_URL``, else its SQLite file under ``.run/``).
"""

from __future__ import annotations

import click

from painflow_shared.cli.dlq import dlq, events
from painflow_shared.cli.doctor import doctor
from painflow_shared.cli.kafka import kafka
from painflow_shared.cli.outbox import outbox
from painflow_shared.cli.services import journey, referral
from painflow_shared.cli.token import token


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Operate Painflow: dead letters, parked events, journeys, referrals, health."""


for command in (outbox, dlq, events, journey, referral, doctor, kafka, token):
    main.add_command(command)
