"""Shared fixtures: the emulator's own pytest plugin (`sf_org`, `sf_org_factory`) is loaded by entry point."""
