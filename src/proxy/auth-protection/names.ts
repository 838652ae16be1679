// One key per account for counting: `CONTOSO\Alice`, `alice@contoso.lab` and `alice` are the same account to AD, so a
// spray cannot get five guesses per spelling. `exact` keeps domain-qualified forms apart (multi-domain forests where
// alice@contoso and alice@fabrikam are two people); both ignore letter case, as AD does.
export type SameUser = 'name' | 'exact';

/** Longest name kept (AD's UPN limit is far below; anything longer is cut, not trusted). */
const MAX_NAME = 256;

export function accountKey(name: string, domain: string | undefined, mode: SameUser): string {
  let user = name.length > MAX_NAME ? name.slice(0, MAX_NAME) : name;
  let dom = domain ?? '';
  const slash = user.indexOf('\\');
  if (slash !== -1) {
    dom = user.slice(0, slash);
    user = user.slice(slash + 1);
  }
  if (mode === 'name') {
    const at = user.lastIndexOf('@');
    if (at > 0) user = user.slice(0, at);
    return user.toLowerCase();
  }
  return (dom ? `${dom}\\${user}` : user).toLowerCase();
}
