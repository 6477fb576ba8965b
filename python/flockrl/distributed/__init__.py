"""Beyond one machine: the same trainers with their actors and replay as
Ray actors (``backend="ray"``, ``flockrl train ... --backend ray``).

Ray is an optional extra (``pip install "flockrl[ray]"``); nothing here is
imported on the default single-machine path.
"""
