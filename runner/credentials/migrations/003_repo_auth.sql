-- Repository tokens for the supabase provider (issue 12): one row per (project, url), the url
-- normalized by the runner (runner/credentials/repo.ts). The token is sealed with AES-256-GCM by the
-- runner under the same Infisical-held data key as the org rows; the database never sees it plain.
create table if not exists sfp_repo_auth (
  project     text        not null,
  url         text        not null check (url ~ '^https?://[^/@?#]+/[^?#]+$'),
  ciphertext  text        not null,  -- base64: ciphertext || 16-byte GCM tag
  iv          text        not null,  -- base64: 12-byte IV
  key_version integer     not null check (key_version > 0),
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now(),
  primary key (project, url)
);

-- Only the service role (which bypasses RLS) may touch these rows.
alter table sfp_repo_auth enable row level security;

drop trigger if exists sfp_repo_auth_touch on sfp_repo_auth;
create trigger sfp_repo_auth_touch before update on sfp_repo_auth
  for each row execute function sfp_touch_updated_at();
