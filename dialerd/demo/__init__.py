"""`dialerd demo`: the production service on the AMI simulator with synthetic leads."""
