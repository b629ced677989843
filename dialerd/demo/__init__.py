"""`dialerd demo`: the production service on the AMI simulator with synthetic leads.

May import everything below it (up to daemon); imported only by cli."""
