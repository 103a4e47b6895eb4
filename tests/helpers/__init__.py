"""Test doubles and helper programs. Nothing in `sage_tui/` imports from here."""
