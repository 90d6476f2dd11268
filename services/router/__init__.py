"""Router: threads inbound messages into tickets, triages, stores and publishes them."""
