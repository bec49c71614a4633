"""Channels: each turns its platform's events into `Inbound`, calls the service, and renders
the replies its platform's way. No survey logic lives here."""
