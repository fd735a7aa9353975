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
        )
    ]
}
