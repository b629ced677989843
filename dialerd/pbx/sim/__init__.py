"""The AMI simulator: a TCP AMI server that plays calls and queues like Asterisk 22,
for the demo, the fast tests and the benches. Imports nothing of dialerd outside it."""
