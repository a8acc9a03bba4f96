"""All OneGrid settings in one pydantic-settings object, read through a cached `get_settings()`."""

from __future__ import annotations

import zlib
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The checkout this package lives in; the embedded cluster's files go under its `var/`.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _default_port(var_dir: Path) -> int:
    """A port derived from the checkout path, so two clones on one machine never collide."""
    return 55000 + zlib.crc32(str(var_dir.resolve()).encode()) % 1000


class Settings(BaseSettings):
    """OneGrid configuration; every field can be set as an `ONEGRID_<NAME>` environment variable."""

    model_config = SettingsConfigDict(env_prefix="ONEGRID_", extra="ignore")

    # ---------------------------------------------------------------- database and pools
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("ONEGRID_DATABASE_URL", "DATABASE_URL"),
        description="Use this PostgreSQL/PostGIS database; when unset the embedded cluster is used.",
    )
    var_dir: Path = Field(default=PROJECT_ROOT / "var", description="Embedded cluster and runtime files.")
    db_port: int | None = Field(default=None, description="Embedded cluster port (default: per checkout).")
    db_name: str = "onegrid"
    pg_bin: Path = Path("/usr/lib/postgresql/15/bin")
    pool_size: int = Field(
        default=20, description="Pooled connections per process; also the requests in flight per process."
    )
    pool_max_overflow: int = Field(
        default=0,
        description="Extra connections beyond the pool, closed when returned: each new one pays "
        "PostgreSQL's per-session warm-up (~20 ms of planning and caches), so keep it 0 under load.",
    )
    background_pool_size: int = Field(
        default=3, description="Connections of the scheduled jobs and the live feed, per process."
    )
    background_pool_overflow: int = Field(default=10, description="Extra background connections at a peak.")
    auth_pool_size: int = Field(
        default=2, description="Connections that check tokens, apart from the request pool, per process."
    )
    auth_pool_overflow: int = Field(default=8, description="Extra token-check connections at a peak.")
    statement_timeout_ms: int = 30_000

    # ---------------------------------------------------------------- place and time
    timezone: str = Field(
        default="Asia/Shanghai",
        description="The district's zone: every time in an answer carries its offset, months are its months.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)  # an unknown zone stops the start, not the first request
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    projected_epsg: int = Field(default=4550, description="Metric CRS (CGCS2000 3° GK CM 123E).")
    topology_tolerance_m2: float = Field(
        default=1.0, description="Gaps and overlaps smaller than this (m²) are floating-point dust."
    )
    topology_sliver_m2: float = Field(
        default=10.0, description="A unit's polygon part smaller than this (m²) is reported as a sliver."
    )

    # ---------------------------------------------------------------- auth
    demo_mode: bool = Field(default=True, description="Allow demo accounts; refuse to start otherwise.")
    token_ttl_minutes: int = 12 * 60
    token_cache_seconds: float = Field(
        default=30.0, description="How long a checked token is trusted without asking the database."
    )
    login_failures_max: int = Field(default=5, description="Failed logins in a row before an account locks.")
    login_lock_minutes: float = Field(default=15.0, description="How long a locked account stays locked.")
    login_per_minute: int = Field(default=30, description="Login attempts per client address per minute.")
    api_key_days: int = Field(default=365, description="Life of an API key (HTTP Basic for GIS clients).")
    basic_cache_seconds: float = Field(
        default=60.0,
        description="How long a password checked over HTTP Basic is trusted before it is checked again.",
    )

    pii_keys: SecretStr | None = Field(
        default=None,
        description="Keys sealing residents' ID numbers and phones, comma-separated, newest first (the "
        "first seals, all open; `onegrid pii new-key` makes one). Unset: var/pii-keys.json, made once.",
    )
    pii_digest_key: SecretStr | None = Field(
        default=None, description="Key of the digests exact search by ID number or phone matches on."
    )

    # ---------------------------------------------------------------- single sign-on
    oidc_issuer: str | None = Field(
        default=None,
        description="An OpenID Connect provider's issuer URL; set, every login form offers 统一身份认证登录.",
    )
    oidc_client_id: str = Field(default="onegrid", description="OneGrid's client id at the provider.")
    oidc_client_secret: SecretStr | None = Field(
        default=None, description="A confidential client's secret (PKCE is used either way)."
    )
    oidc_redirect_url: str | None = Field(
        default=None,
        description="The callback URL registered at the provider (default: this server's "
        "/api/v1/auth/oidc/callback as the browser reached it).",
    )
    oidc_scopes: str = Field(default="openid profile", description="Scopes asked of the provider.")
    oidc_username_claim: str = Field(default="preferred_username", description="Claim that is the username.")
    oidc_role_claim: str = Field(default="onegrid_role", description="Claim that names the role.")
    oidc_roles: dict[str, str] = Field(
        default_factory=dict,
        description='The role claim\'s values → OneGrid roles, JSON ({"社区网格长": "community_officer"}); '
        "a value that is a OneGrid role maps to itself.",
    )
    oidc_jurisdiction_claim: str = Field(
        default="onegrid_area", description="Claim with an officer's area code."
    )
    oidc_department_claim: str = Field(
        default="onegrid_department", description="Claim with a handler's department code."
    )
    oidc_worker_claim: str = Field(default="onegrid_worker", description="Claim with a grid worker's code.")

    # ---------------------------------------------------------------- reports and photos
    reports_per_minute: int = Field(
        default=60, description="Report submissions per user per minute (retries of a stored key included)."
    )
    photo_dir: Path = Field(default=PROJECT_ROOT / "var" / "photos", description="Content-addressed photos.")
    photo_max_bytes: int = Field(default=8 * 1024 * 1024, description="Largest accepted photo upload.")
    photo_max_pixels: int = Field(default=40_000_000, description="Largest accepted photo (pixels).")
    photo_max_count: int = 9
    boundary_flag_m: float = Field(default=30.0, description="Reports this close to a grid edge are flagged.")
    duplicate_radius_m: float = 50.0
    duplicate_days: int = 7
    # ---------------------------------------------------------------- read replicas (issue 25)
    replica_urls: str = Field(
        default="",
        description="Streaming replicas for reads, comma-separated URLs (default: the embedded cluster's).",
    )
    replica_max_lag_s: float = Field(
        default=2.0, description="A replica further behind the primary than this is not read from."
    )
    replica_check_s: float = Field(default=1.0, description="How often each process checks its replicas.")
    edge_purge_url: str = Field(
        default="",
        description="The tile edge cache (onegrid edge) to let keep tiles and to purge, e.g. http://127.0.0.1:8080.",
    )
    # ---------------------------------------------------------------- other channels (issue 22)
    hotline_place_min_score: float = Field(
        default=0.8,
        description="A hotline case's address placed without a person at this geocoding score or above.",
    )
    webhook_retry_base_s: float = Field(
        default=10.0, description="First retry of a failed webhook after this."
    )
    webhook_retry_max_s: float = Field(default=3600.0, description="Longest wait between webhook retries.")
    webhook_max_attempts: int = Field(
        default=10, description="A webhook delivery is dead after this many tries."
    )
    webhook_timeout_s: float = Field(default=10.0, description="A receiver must answer within this.")
    webhook_poll_s: float = Field(
        default=1.0, description="How often each server process looks for due webhook deliveries (0: never)."
    )
    escalation_interval_s: float = Field(
        default=60.0, description="How often overdue incidents are escalated."
    )

    # ---------------------------------------------------------------- tracks
    track_max_accuracy_m: float = Field(
        default=50.0, description="GPS fixes less accurate than this are refused."
    )
    track_max_speed_mps: float = Field(
        default=10.0, description="A fix reached and left faster than this (36 km/h) is a jump, refused."
    )
    track_max_batch: int = Field(default=20_000, description="Most fixes in one track upload.")
    on_duty_minutes: int = Field(
        default=30, description="A worker whose newest fix is at most this old is on duty (point-call)."
    )
    report_track_max_m: float = Field(
        default=200.0, description="A grid worker's report farther than this from their own track is flagged."
    )
    check_in_window_s: int = Field(
        default=600,
        description="打卡: a fix this recent within 50 m of the key point lets a worker check in.",
    )

    # ---------------------------------------------------------------- warnings
    warning_interval_s: float = Field(default=60.0, description="How often the warning rules run (0: never).")
    cold_chain_max_c: float = Field(
        default=-15.0, description="A cold-chain site's latest reading warmer than this raises a warning."
    )
    cold_chain_reading_window_h: float = Field(
        default=2.0, description="Only a cold-chain reading this recent can raise a temperature warning."
    )
    worker_grid_tolerance_m: float = Field(
        default=50.0, description="A worker on shift farther than this from all their grids is warned of."
    )

    # ---------------------------------------------------------------- tiles and requests
    tile_cache_entries: int = Field(default=20_000, description="Rendered tiles kept per server process.")
    tile_timeout_ms: int = Field(default=5_000, description="Statement timeout of one tile's SQL.")
    metrics_clients: list[str] = Field(
        default=["127.0.0.1", "::1"],
        description="Addresses allowed to read /metrics (JSON list); others get 403. Default: this host.",
    )
    slow_request_ms: float = Field(
        default=500.0, description="A request slower than this is logged with its id and phases."
    )

    # ---------------------------------------------------------------- live feed
    event_retention_h: float = Field(default=24.0, description="Live events kept for walls that reconnect.")

    @property
    def embedded(self) -> bool:
        """True when OneGrid manages its own local cluster (no DATABASE_URL given)."""
        return not self.database_url

    @property
    def embedded_port(self) -> int:
        """Port of the embedded cluster."""
        return self.db_port or _default_port(self.var_dir)


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings, read once from the environment."""
    return Settings()
