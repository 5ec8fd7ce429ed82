-- Org credentials for the supabase provider: one row per (project, alias). The auth URL is sealed
-- with AES-256-GCM by the runner (the data key lives in Infisical); the database never sees it plain.
create table if not exists sfp_org_auth (
  project     text        not null,
  alias       text        not null check (alias ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'),
  ciphertext  text        not null,  -- base64: ciphertext || 16-byte GCM tag
  iv          text        not null,  -- base64: 12-byte IV
  key_version integer     not null check (key_version > 0),
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now(),
  primary key (project, alias)
);

-- Only the service role (which bypasses RLS) may touch these rows: no policy grants anon or
-- authenticated users anything.
alter table sfp_org_auth enable row level security;
