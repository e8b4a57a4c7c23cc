"""Service settings, read from ``OMS_*`` environment variables (see the README table)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_", env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL (postgresql://user:pass@host:port/db). "
        "Unset: an embedded PostgreSQL is started with its data under OMS_DATA_DIR.",
    )
    data_dir: Path = Field(
        default=Path(".data"), description="Where the embedded PostgreSQL keeps its cluster."
    )
    embedded_database: str = Field(
        default="oms", description="Database name created inside the embedded PostgreSQL."
    )
    host: str = Field(default="127.0.0.1", description="HTTP bind address.")
    port: int = Field(default=8000, description="HTTP port.")
    worker_port: int = Field(
        default=8001,
        description="HTTP port of `python -m app worker` (only /healthz, /readyz, /metrics).",
    )
    worker_nice: int = Field(
        default=0,
        ge=0,
        le=19,
        description="CPU niceness `python -m app worker` takes on: on a machine shared with "
        "the API, 10 lets order confirmation come before e-mail and jobs (0 = as the API).",
    )
    debug: bool = Field(
        default=False, description="Show exception details in GraphQL errors (never in prod)."
    )
    graphiql: bool = Field(default=True, description="Serve the GraphiQL IDE at /graphql.")
    introspection: bool = Field(default=True, description="Allow schema introspection queries.")
    log_level: str = Field(default="INFO", description="Log level.")
    log_json: bool = Field(
        default=True, description="JSON log lines (false: human-readable console lines)."
    )
    db_read_pool_size: int = Field(
        default=10,
        description="Connections per replica for reads outside a transaction (PDP, orders).",
    )
    db_write_pool_size: int = Field(
        default=40,
        description="Connections per replica for the use cases' transactions (placement, "
        "admin writes, jobs).",
    )
    db_connect_timeout: float = Field(
        default=5.0,
        gt=0,
        description="Seconds to open a database connection before the request is answered "
        "503 SERVICE_UNAVAILABLE (retryable).",
    )
    db_acquire_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a request waits for a pooled database connection (opening one "
        "included) before it is answered 503 SERVICE_UNAVAILABLE (retryable).",
    )
    idempotency_hours: float = Field(
        default=24.0, description="How long placement idempotency keys are kept."
    )
    authorization_valid_days: int = Field(
        default=7, description="How long a card authorization holds before it must be renewed."
    )
    reference_cache_seconds: float = Field(
        default=5.0,
        description="How long regions and channels are cached in process (0 = every request).",
    )
    pdp_cache_seconds: float = Field(
        default=1.0,
        description="Anonymous catalog reads (PDP) are cached this long per replica and "
        "dropped on any inventory change (at once, or within OMS_NOTIFY_COALESCE_MS after a "
        "placement; 0 = off).",
    )
    notify_coalesce_ms: float = Field(
        default=20.0,
        description="Placements' inventory NOTIFYs are sent after COMMIT, one per this many "
        "milliseconds per replica for all SKUs placed in it (0 = right after each COMMIT).",
    )
    live_poll_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Live subscriptions: each replica reads the event ledger and the watched "
        "SKUs at least this often, whether or not a NOTIFY woke it.",
    )
    live_coalesce_ms: float = Field(
        default=100.0,
        ge=0,
        description="availabilityChanged: changes of a SKU within this many milliseconds are "
        "sent as one frame.",
    )
    live_queue_size: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="Live subscriptions: events waiting for one subscriber; a subscriber that "
        "falls this far behind is closed (code 4429) and can resume with `after`.",
    )
    ws_max_subscriptions: int = Field(
        default=50,
        ge=1,
        le=1000,
        description="Operations one WebSocket may have running at once; one more gets the "
        "error 'Subscription limit reached'.",
    )
    persisted_queries: bool = Field(
        default=True,
        description="Accept automatic persisted queries (APQ) besides the trusted documents.",
    )
    store_timezone: str = Field(
        default="UTC",
        description="IANA time zone of the store: launch dates and 'today' are read in it.",
    )
    handling_days: int = Field(
        default=1, description="Days from order to dispatch for READY stock (pick and pack)."
    )
    demo_data: bool = Field(
        default=False, description="Load the idempotent demo data set at start-up."
    )
    demo_storefront_key: SecretStr | None = Field(
        default=None,
        description="API key (storefront scope) the PDP demo page (/demo/pdp/{sku}) places "
        "orders with; unset: `serve` with the demo data makes one (expires in a day); else "
        "the page only shows availability. Never an ops key: the page shows it to browsers.",
    )
    access_log: bool = Field(default=True, description="Log one line per HTTP request.")
    workers: int = Field(
        default=1,
        description="Worker processes for `serve` (each with its own pools; stateless).",
    )
    gc_threshold: int = Field(
        default=20_000, description="Allocations between young-generation GC passes (serve)."
    )
    max_query_depth: int = Field(default=10, description="Deepest GraphQL selection allowed.")
    max_page_size: int = Field(
        default=100, description="Largest `first` a connection accepts (its default is 20)."
    )
    max_aliases: int = Field(default=15, description="Most aliases allowed in one document.")
    max_tokens: int = Field(default=2000, description="Most tokens allowed in one document.")
    scheduler_seconds: float = Field(
        default=10.0,
        description="Seconds between runs of the scheduled jobs (pre-order release, new-line "
        "promises, delay-consent expiry, authorization renewal); 0 = no scheduler here.",
    )
    delay_consent_days: int = Field(
        default=14,
        description="A promise that slips more than this many days past the first promise "
        "asks the customer to accept the delay or cancel.",
    )
    delay_consent_wait_days: int = Field(
        default=7, description="Days a customer has to answer a delay before the policy applies."
    )
    delay_no_answer_policy: Literal["ACCEPT", "CANCEL"] = Field(
        default="ACCEPT",
        description="What an unanswered delay becomes: ACCEPT keeps the line, CANCEL cancels "
        "it and refunds or voids its payments.",
    )
    pause_keeps_allocation: bool = Field(
        default=False,
        description="Pausing a line keeps its ring-fenced units (else they go to the next "
        "in line at once).",
    )
    # ------------------------------------------------------------ messages to customers
    store_name: str = Field(
        default="Preorder OMS demo store", description="The store's name in e-mails."
    )
    store_url: str = Field(default="http://localhost:8000", description="The store's web site.")
    support_email: str = Field(
        default="support@example.com", description="Where customers write for help."
    )
    mail_from: str = Field(
        default="orders@example.com", description="Sender address of e-mails to customers."
    )
    mail_reply_to: str | None = Field(default=None, description="Reply-To of those e-mails.")
    locale: str = Field(
        default="en_GB", description="Locale of dates and amounts in e-mails (Babel, e.g. de_DE)."
    )
    link_base_url: str = Field(
        default="http://localhost:8000/store",
        description="Storefront base of the links in e-mails (/delay, /unsubscribe, "
        "/alerts/confirm pages that call the matching mutations with the link's token).",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key that signs links in e-mails; unset: a key made once per database.",
    )
    smtp_host: str | None = Field(
        default=None,
        description="SMTP server; unset: e-mails are kept as .eml files in OMS_MAIL_DIR.",
    )
    smtp_port: int = Field(default=587, description="SMTP port.")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="SMTP transport security: starttls, tls or none."
    )
    smtp_username: str | None = Field(default=None, description="SMTP user name.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, description="SMTP timeout.")
    mail_dir: Path | None = Field(
        default=None, description="Where e-mails go without SMTP; unset: OMS_DATA_DIR/mail."
    )
    mail_relay_seconds: float = Field(
        default=2.0,
        ge=0,
        description="The e-mail relay's poll interval (it also wakes on every new event); "
        "0 = it runs only as the SEND_NOTIFICATIONS job.",
    )
    mail_max_attempts: int = Field(
        default=8, ge=1, le=50, description="Attempts before a message is dead."
    )
    mail_retry_base_seconds: float = Field(
        default=30.0, gt=0, description="First retry delay; doubles each time, with jitter."
    )
    mail_retry_max_seconds: float = Field(
        default=3600.0, gt=0, description="Longest delay between two attempts."
    )
    mail_lease_seconds: float = Field(
        default=120.0,
        gt=0,
        description="A message claimed this long ago and not finished is UNCONFIRMED "
        "(its relay died mid-send): ops decide whether to send it again.",
    )
    reminder_days: list[int] = Field(
        default=[30, 7],
        description="Delivery reminders this many days before a waiting line's expected "
        "delivery (JSON list).",
    )
    alert_hold_minutes: int = Field(
        default=30,
        ge=0,
        description="'Notify me': alerts go out for as many units as opened; the next ones "
        "wait this long, so the first in line get the first chance.",
    )
    # ------------------------------------------------------------ fulfilment
    shipment_risk_hours: float = Field(
        default=4.0,
        gt=0,
        description="A shipment with less than this many hours to its dispatch deadline is "
        "at risk (fulfilmentQueue, shipment counts).",
    )
    default_cutoff_time: str = Field(
        default="15:00",
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="Daily cut-off (store time) of channels without their own: work arriving "
        "later counts from the next day.",
    )
    # ------------------------------------------------------------ the edge (HTTP, limits)
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        description="Largest HTTP request body (bytes), refused with 413 before it is parsed.",
    )
    max_document_bytes: int = Field(
        default=32_768,
        ge=256,
        description="Largest GraphQL document (bytes, comments and whitespace included).",
    )
    max_introspection_depth: int = Field(
        default=15,
        ge=1,
        description="Deepest introspection selection allowed (GraphiQL's own query needs 13).",
    )
    rate_limit_anonymous: str = Field(
        default="30/second;900/minute",
        description="Requests per client address without an API key, per replica (limits "
        "syntax, ';' between windows; empty: no limit).",
    )
    rate_limit_key: str = Field(
        default="300/second;12000/minute",
        description="Requests per API key, per replica (empty: no limit).",
    )
    document_cache_bytes: int = Field(
        default=8_388_608,
        ge=65_536,
        description="Memory for parsed documents and persisted-query registrations, each "
        "(bytes of document text; least recently used go first).",
    )
    # ------------------------------------------------------------ input limits per channel
    max_units_per_line: int = Field(
        default=1000,
        ge=1,
        le=100_000_000,
        description="Units one order line may ask for on a channel without its own limit "
        "(setChannelLimits); more is refused with LIMIT_EXCEEDED. Ops keys are not bound.",
    )
    max_units_per_customer_sku: int = Field(
        default=5000,
        ge=1,
        le=100_000_000,
        description="Units of one SKU one customer (e-mail) may have on open orders (not "
        "cancelled, not shipped) on a channel without its own limit, the new order included.",
    )
    # ------------------------------------------------------------ channel intake (webhooks)
    intake_secrets: dict[str, list[SecretStr]] = Field(
        default={},
        description="Webhook signing secrets per channel (JSON: channel code to a list; every "
        "secret listed is valid, so a rotation lists the new one beside the old one). A "
        "channel without one has no intake endpoint.",
    )
    intake_tolerance_seconds: int = Field(
        default=300,
        ge=1,
        le=86_400,
        description="A webhook signed longer ago (or further ahead) than this is refused as a "
        "possible replay.",
    )
    intake_max_batch_bytes: int = Field(
        default=8_388_608,
        ge=1024,
        description="Largest till batch upload (bytes), refused with 413 before it is read.",
    )
    intake_max_batch_rows: int = Field(
        default=10_000, ge=1, description="Most rows one till batch may hold."
    )
    intake_max_attempts: int = Field(
        default=6,
        ge=1,
        le=50,
        description="Attempts at a payload that fails for a passing reason (database "
        "unavailable, deadlock, timeout) before it is a dead letter.",
    )
    intake_retry_base_seconds: float = Field(
        default=10.0, gt=0, description="First intake retry delay; doubles, with jitter."
    )
    intake_retry_max_seconds: float = Field(
        default=900.0, gt=0, description="Longest delay between two intake attempts."
    )
    intake_lock_timeout_ms: int = Field(
        default=5000,
        ge=1,
        description="How long an intake placement waits for a locked row before it gives up "
        "and is retried later (the sender is answered at once).",
    )
    intake_retention_days: int = Field(
        default=30,
        ge=1,
        description="Raw intake payloads (they hold personal data) are emptied this many days "
        "after they arrived; what became of them is kept.",
    )
    # ------------------------------------------------------------ faults and shutdown
    # ------------------------------------------------------------ production profile, keys
    env: Literal["development", "production"] = Field(
        default="development",
        description="Profile. production: GraphiQL and introspection off and JSON logs unless "
        "set explicitly; OMS_DATABASE_URL required; demo data and OMS_DEBUG refused.",
    )

    @model_validator(mode="after")
    def _profile_defaults(self) -> Settings:
        """The production profile's defaults; a setting given explicitly still wins."""
        if self.env == "production":
            for name, value in PRODUCTION_DEFAULTS.items():
                if name not in self.model_fields_set:
                    setattr(self, name, value)
        return self

    def profile_problems(self, demo: bool) -> list[str]:
        """Why this configuration must not start (``demo``: the demo data was asked for)."""
        if self.env != "production":
            return []
        problems = []
        if not self.database_url:
            problems.append(
                "OMS_ENV=production needs OMS_DATABASE_URL (the embedded PostgreSQL is for "
                "development)"
            )
        if demo:
            problems.append(
                "OMS_ENV=production never loads the demo data (OMS_DEMO_DATA, --demo-data)"
            )
        if self.debug:
            problems.append(
                "OMS_ENV=production refuses OMS_DEBUG=true (it shows exception details to clients)"
            )
        return problems


# What OMS_ENV=production changes when the setting itself is not given.
PRODUCTION_DEFAULTS: dict[str, object] = {
    "graphiql": False,
    "introspection": False,
    "log_json": True,
}


def settings_table() -> str:
    """The README's table of settings (``python -m app settings-table``)."""
    rows = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = (
            "unset"
            if default is None
            else str(default).lower()
            if isinstance(default, bool)
            else str(default)
        )
        rows.append(f"| `OMS_{name.upper()}` | `{shown}` | {field.description} |")
    return "\n".join(rows) + "\n"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
