-- GDPR erasure: the one change the append-only rule lets through.
--
-- <table>_erase_user(subject, pseudonym) pseudonymises one user's
-- personal fields in every row where the user is the actor: user_id
-- becomes the pseudonym, user_name, ip_address, user_agent and session_id
-- become NULL. Nothing else of a row changes. These are exactly the
-- fields the seal (schema/seal) covers through a per-row salted
-- commitment, so sealed rows still verify once the sealing job's salts of
-- those rows are dropped.
--
-- The function runs as the owner (SECURITY DEFINER) and EXECUTE is the
-- owner's only: it may be granted to an erasure job's role, which then
-- needs no UPDATE right on the table. For everyone else, the owner
-- included outside this function, the append-only triggers refuse every
-- UPDATE, DELETE and TRUNCATE as before: the trigger function lets an
-- UPDATE through only when the function announced it (a transaction-local
-- setting), the statement runs as the table's owner, and only the
-- personal fields differ.

CREATE OR REPLACE FUNCTION {{qname "_refuse_change"}}() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF pg_catalog.current_setting('otelaudit.erasure', true) = 'on'
           AND (SELECT c.relowner FROM pg_catalog.pg_class AS c WHERE c.oid = TG_RELID)
               = (SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user)
           AND (NEW.created_at, NEW.event_id, NEW.action, NEW.outcome, NEW.error_type, NEW.workspace_id,
                NEW.resource, NEW.resource_id, NEW.details, NEW.previous_value, NEW.new_value, NEW.attributes,
                NEW.trace_id, NEW.span_id, NEW.service_name, NEW.sanitized, NEW.observed_at, NEW.ingested_at,
                NEW.arrival)
               IS NOT DISTINCT FROM
               (OLD.created_at, OLD.event_id, OLD.action, OLD.outcome, OLD.error_type, OLD.workspace_id,
                OLD.resource, OLD.resource_id, OLD.details, OLD.previous_value, OLD.new_value, OLD.attributes,
                OLD.trace_id, OLD.span_id, OLD.service_name, OLD.sanitized, OLD.observed_at, OLD.ingested_at,
                OLD.arrival)
        THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'otelaudit: % on %.% refused: audit rows are append-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Retention drops whole partitions: SELECT * FROM {{qname "_drop_partitions_before"}}(cutoff). Erasure: {{qname "_erase_user"}}(subject, pseudonym).';
END
$fn$;

CREATE FUNCTION {{qname "_erase_user"}}(subject text, pseudonym text)
RETURNS TABLE (created_at timestamptz, event_id uuid)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF subject IS NULL OR subject = '' OR pseudonym IS NULL OR pseudonym = '' OR subject = pseudonym THEN
        RAISE EXCEPTION 'otelaudit: erase: subject and pseudonym must be given and differ'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_catalog.set_config('otelaudit.erasure', 'on', true);
    RETURN QUERY
        UPDATE {{.Table}} AS a
        SET user_id = pseudonym, user_name = NULL, ip_address = NULL, user_agent = NULL, session_id = NULL
        WHERE a.user_id = subject
        RETURNING a.created_at, a.event_id;
    PERFORM pg_catalog.set_config('otelaudit.erasure', 'off', true);
END
$fn$;

REVOKE ALL ON FUNCTION {{qname "_erase_user"}}(text, text) FROM PUBLIC;
