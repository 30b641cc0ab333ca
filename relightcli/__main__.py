"""``python -m relightcli`` (also what ``torchrun -m relightcli`` runs)."""

from .cli import main

main()
