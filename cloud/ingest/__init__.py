"""Turning validated MQTT traffic into durable captures: frames stored exactly once in
shards + rows, manifests checked for completeness, refused payloads dead-lettered."""
