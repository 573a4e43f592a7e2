"""What ``taskiq worker shell.jobs_worker:broker`` and ``taskiq scheduler
shell.jobs_worker:scheduler`` load: the job broker and its schedule, from ``IVR_*`` settings."""

from __future__ import annotations

from ivr.settings import get_settings
from shell.jobs import build_broker, build_scheduler

broker = build_broker(get_settings())
scheduler = build_scheduler(broker)
