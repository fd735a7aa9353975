/// What only several instances sharing one database need (issue 18); SQLite has no counterpart.
extension PostgresMigrations {
    static let instances: [PostgresMigration] = [
        PostgresMigration(
            // One row per company ever leased: who holds its work until when (epoch ms), and the
            // generation, bumped by every change of holder, that fences the holder's writes. A
            // released lease keeps its row so the next holder's generation still rises.
            version: "pg1-company-leases",
            statements: [
                """
                CREATE TABLE qb_company_leases (
                    realm_id TEXT PRIMARY KEY NOT NULL,
                    owner TEXT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    generation BIGINT NOT NULL CHECK (generation > 0),
                    acquired_at BIGINT NOT NULL,
                    renewed_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX qb_company_leases_expiry ON qb_company_leases(expires_at)",
            ]
        ),
        PostgresMigration(
            // One row per running instance and its heartbeat (epoch ms): how many are alive, so each
            // takes its share of the companies (an instance holding none is alive too).
            version: "pg2-instances",
            statements: [
                """
                CREATE TABLE qb_instances (
                    instance TEXT PRIMARY KEY NOT NULL,
                    started_at BIGINT NOT NULL,
                    seen_at BIGINT NOT NULL
                )
                """
            ]
        ),
        PostgresMigration(
            // Control calls carried to the instance holding their company (epoch ms): params and
            // answers sealed with the token key. A call claimed under an older lease generation is
            // claimed again by the next holder; the submitter removes it once answered.
            version: "pg3-forwarded-calls",
            statements: [
                """
                CREATE TABLE qb_forwarded_calls (
                    id TEXT PRIMARY KEY NOT NULL,
                    realm_id TEXT NOT NULL,
                    method TEXT NOT NULL,
                    params BYTEA NOT NULL,
                    origin TEXT NOT NULL,
                    submitted_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    claimed_by TEXT,
                    claimed_generation BIGINT,
                    claimed_at BIGINT,
                    answer BYTEA,
                    answered_at BIGINT
                )
                """,
                "CREATE INDEX qb_forwarded_calls_open ON qb_forwarded_calls(realm_id) WHERE answered_at IS NULL",
            ]
        ),
        PostgresMigration(
            // The budget state last told to operators (quota.status_changed), so that of several
            // instances seeing a change, one tells it.
            version: "pg4-read-state-told",
            statements: ["CREATE TABLE qb_read_state_told (month TEXT PRIMARY KEY NOT NULL, state TEXT NOT NULL)"]
        ),
    ]
}
