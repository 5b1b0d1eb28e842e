"""Notifier: member preferences, community chat channels, e-mail and chat delivery, delivery log."""
