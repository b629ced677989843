-- PostgreSQL only: the PBX each daemon drives (its AMI address), for `dialerd status`.
ALTER TABLE daemons ADD COLUMN pbx TEXT NOT NULL DEFAULT '';
