-- Run once by the postgres image on an empty volume (docker-entrypoint-initdb.d):
-- the application role and one database per service, as deploy/postgres/postgres.sh does locally.
CREATE ROLE painflow LOGIN CREATEDB PASSWORD 'painflow';
CREATE DATABASE painflow_referral OWNER painflow;
CREATE DATABASE painflow_assessment OWNER painflow;
CREATE DATABASE painflow_scheduling OWNER painflow;
CREATE DATABASE painflow_followup OWNER painflow;
