// Known Exchange exploits, as data: each rule's name (the config key that turns it off), its CVEs, where it comes
// from, and what it matches on the canonical request. The matcher is src/proxy/mitigations.ts; a new rule is a few
// lines here. Every pattern is tested against the decoded, dot-segment-free, lower-case request (see
// canonicalForMatching there), so percent-encoding, %u-encoding, mixed case, backslashes and doubled slashes do not
// hide an exploit.
//
// Lives next to exchange.ts (the vdir table) because the config schema derives `exchange.mitigations` keys from it.

export interface MitigationRule {
  /** Config key under exchange.mitigations, label value in metrics, word in logs. */
  name: string;
  cves: readonly string[];
  /** One line: what the exploit does and why this match stops it. */
  summary: string;
  /** Public source of the request shape or of the vendor's own rule. */
  source: string;
  /** Every condition given must hold. */
  match: {
    /** A lower-case text every matching request's decoded URI contains: a quick test before the patterns. */
    hint?: string;
    /** Decoded path + '?' + decoded query (IIS URL Rewrite's {UrlDecode:{REQUEST_URI}}). */
    uri?: RegExp;
    /** Decoded, dot-segment-free path. */
    path?: RegExp;
    /** Decoded query ('+' as space). */
    query?: RegExp;
    /** Cookies and request headers of these names (lower case), with a (decoded) value matching `value`. */
    cookieOrHeader?: { names: readonly string[]; value: RegExp };
  };
}

/** Virtual directories an SSRF through Autodiscover's explicit-logon path confusion was seen to reach. */
const VDIRS = '(?:mapi|powershell|ews|ecp|owa|rpc|oab|microsoft-server-activesync|autodiscover)';

export const MITIGATION_RULES: readonly MitigationRule[] = [
  {
    name: 'proxylogon',
    cves: ['CVE-2021-26855'],
    summary:
      'SSRF through the X-BEResource / X-AnonResource-Backend routing cookies: a value naming a host and a path ' +
      '("localhost/ecp/x.js?~1942062522"). Genuine values are a server FQDN~version, never with / \\ ? # or @.',
    source: 'Microsoft EOMT / ExchangeMitigations.ps1 URL Rewrite rules (cookie X-AnonResource-Backend and X-BEResource matching .*/.*~.*)',
    match: { cookieOrHeader: { names: ['x-beresource', 'x-anonresource-backend'], value: /[/\\?#@]/ } },
  },
  {
    name: 'proxyshell',
    cves: ['CVE-2021-34473', 'CVE-2021-34523', 'CVE-2021-31207'],
    summary:
      'Autodiscover explicit-logon path confusion: /autodiscover/autodiscover.json?@x/mapi/nspi/ or …/powershell with ' +
      'Email=autodiscover/autodiscover.json in the query, which the CAS strips to reach another vdir as SYSTEM.',
    source: 'Orange Tsai, "ProxyShell" (Black Hat USA 2021); Microsoft KB5001779 / July 2021 SUs',
    match: { hint: 'autodiscover.json', uri: new RegExp(`autodiscover\\.json.*(?:\\?|&|@).*(?:/${VDIRS}(?:/|\\?|$)|autodiscover/autodiscover\\.json)`) },
  },
  {
    name: 'proxyshell-email',
    cves: ['CVE-2021-34473'],
    summary: 'The ProxyShell marker on any path: an Email= parameter naming autodiscover/autodiscover.json.',
    source: 'Orange Tsai, "ProxyShell" (Black Hat USA 2021); public ProxyShell scanners',
    match: { hint: 'autodiscover.json', query: /(?:^|&)email=[^&]*autodiscover\/autodiscover\.json/ },
  },
  {
    name: 'proxynotshell',
    cves: ['CVE-2022-41040', 'CVE-2022-41082'],
    summary:
      'Autodiscover SSRF to remote PowerShell. Microsoft\'s URL Rewrite rule (EEMS mitigation M1.2) blocks every ' +
      'request whose decoded REQUEST_URI contains both "autodiscover" and "powershell": (?=.*autodiscover)(?=.*powershell).',
    source: 'MSRC, "Customer Guidance for Reported Zero-day Vulnerabilities in Microsoft Exchange Server" (Sept/Oct 2022)',
    match: { hint: 'powershell', uri: /autodiscover.*powershell|powershell.*autodiscover/ },
  },
  {
    name: 'owassrf',
    cves: ['CVE-2022-41080', 'CVE-2022-41082'],
    summary: 'OWA front end SSRF to remote PowerShell: /owa/<mailbox>/powershell (bypasses the ProxyNotShell rule).',
    source: 'CrowdStrike, "OWASSRF: CrowdStrike Identifies New Exploit Method for Exchange" (Dec 2022)',
    match: { hint: 'powershell', path: /^\/owa\/(?:[^/]*\/)*powershell(?:\/|$)/ },
  },
  {
    name: 'proxyoracle',
    cves: ['CVE-2021-31195', 'CVE-2021-31196'],
    summary: 'Reflected XSS in the OWA error page that steals the padding-oracle-decryptable cadata cookie: /owa/auth/frowny.aspx with a script in refurl/esrc/te.',
    source: 'Orange Tsai, "ProxyOracle" (2021); Microsoft May 2021 SUs',
    match: { hint: 'frowny', path: /^\/owa\/auth\/frowny\.aspx$/, query: /[<>"']|javascript:|\}\}/ },
  },
];

export const MITIGATION_NAMES = MITIGATION_RULES.map((r) => r.name);
