-- Runs once, when the compose PostgreSQL volume is empty: one database per service (the
-- analytics service keeps its read models in MongoDB). The POSTGRES_USER role owns them all.
CREATE DATABASE contacts;
CREATE DATABASE sales;
CREATE DATABASE marketing;
CREATE DATABASE service_desk;
