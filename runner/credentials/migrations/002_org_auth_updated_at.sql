-- Keep updated_at honest whatever the writer sends.
create or replace function sfp_touch_updated_at() returns trigger language plpgsql as $$
begin
  new.updated_at := now();
  return new;
end;
$$;

drop trigger if exists sfp_org_auth_touch on sfp_org_auth;
create trigger sfp_org_auth_touch before update on sfp_org_auth
  for each row execute function sfp_touch_updated_at();
