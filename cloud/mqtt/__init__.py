"""The cloud's MQTT side: the client setup, the embedded broker, a private Mosquitto process
and the broker accounts (passwd + ACL) of a booth."""
