"""Modules compiled from users' .layer files are imported here as pktspec.user.<file stem>."""
