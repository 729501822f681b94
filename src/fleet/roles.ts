// The PostgreSQL roles of a fleet: one login role per host, named as the host (LBTOPO_HOST),
// member of lbtopo_host (row-level security: it writes only rows of its own name); and login roles
// for fleet services, members of lbtopo_reader (SELECT only). `lbtopo fleet add-host NAME` prints
// the SQL, and runs it with --apply. Passwords are optional: client certificates (pg_hba `cert`,
// the role name as the certificate's CN) need none.
import { HOST_NAME } from '../config.ts';

export class RoleNameError extends Error {}

function quoteRole(name: string): string {
  if (!HOST_NAME.test(name)) throw new RoleNameError(`${JSON.stringify(name)} is not a host name (letters, digits, '.', '_', '-'; at most 63)`);
  return `"${name}"`;
}

function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** Idempotent SQL creating (or updating) a login role in `group`. */
export function addRoleSql(name: string, group: 'lbtopo_host' | 'lbtopo_reader', password: string | null): string {
  const role = quoteRole(name);
  const login = password === null ? 'LOGIN' : `LOGIN PASSWORD ${quoteLiteral(password)}`;
  return [
    `DO $$ BEGIN`,
    `  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${quoteLiteral(name)}) THEN CREATE ROLE ${role} ${login};`,
    `  ELSE ALTER ROLE ${role} ${login}; END IF;`,
    `END $$;`,
    `GRANT ${group} TO ${role};`,
  ].join('\n');
}
