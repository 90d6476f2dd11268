"""Intake: turns what integrations post into normalized ``InboundMessage`` envelopes for Kafka."""
