"""Subprocess for the key race test: wait for the start signal, then read or create a key."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ivr.settings import Settings


def main() -> None:
    data_dir, go = Path(sys.argv[1]), Path(sys.argv[2])
    settings = Settings(data_dir=data_dir, env="development")
    print("ready", flush=True)
    while not go.exists():  # every worker is up and spinning: start together
        time.sleep(0.0005)
    print(settings.key_bytes("master").hex(), settings.key_bytes("blind_index").hex(), flush=True)


if __name__ == "__main__":
    main()
