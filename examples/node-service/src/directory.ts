/** An account of the portal. */
export interface User {
  id: string;
  name: string;
  workspace: string;
  password: string;
  admin: boolean;
}

/**
 * The tenants and their users: the same as the Go examples (webportal,
 * backend), so that one user's trail spans every service. The first user of
 * each workspace is its admin.
 */
export const WORKSPACES: ReadonlyArray<{ id: string; users: readonly string[] }> = [
  { id: 'ws-acme', users: ['ada', 'grace', 'alan', 'edsger', 'barbara'] },
  { id: 'ws-globex', users: ['ken', 'dennis', 'brian', 'rob'] },
  { id: 'ws-initech', users: ['margaret', 'katherine', 'dorothy', 'mary'] },
  { id: 'ws-umbrella', users: ['linus', 'guido', 'bjarne'] },
];

/** directory returns every account by id; a password is "pw-" + the id. */
export function directory(): Map<string, User> {
  const users = new Map<string, User>();
  for (const ws of WORKSPACES) {
    ws.users.forEach((name, i) => {
      const id = `u-${name}`;
      users.set(id, { id, name, workspace: ws.id, password: `pw-${id}`, admin: i === 0 });
    });
  }
  return users;
}
