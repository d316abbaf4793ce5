/**
 * Microsoft's clouds in one word: the sign-in host, the SMTP submission host and the token
 * scopes that belong together. Global values: docs/microsoft-365.md and Microsoft's "Authenticate an IMAP,
 * POP or SMTP connection using OAuth". National clouds: docs/microsoft-365.md for the hosts; the scopes follow
 * the same resource pattern as used by public mail clients for GCC High and 21Vianet (second-hand:
 * every value can be overridden in the configuration). Microsoft Graph per cloud:
 * https://learn.microsoft.com/graph/deployments ("Microsoft Graph and Graph Explorer service root
 * endpoints"); scopes per https://learn.microsoft.com/graph/permissions-overview (docs/graph.md).
 */
export const CLOUDS = {
  global: {
    authorityHost: 'https://login.microsoftonline.com',
    smtpHost: 'smtp.office365.com',
    delegatedScope: 'https://outlook.office.com/SMTP.Send',
    appScope: 'https://outlook.office365.com/.default',
    graphBaseUrl: 'https://graph.microsoft.com/v1.0',
    graphDelegatedScope: 'https://graph.microsoft.com/Mail.Send',
    graphAppScope: 'https://graph.microsoft.com/.default',
  },
  usgov: {
    authorityHost: 'https://login.microsoftonline.us',
    smtpHost: 'smtp.office365.us',
    delegatedScope: 'https://outlook.office365.us/SMTP.Send',
    appScope: 'https://outlook.office365.us/.default',
    graphBaseUrl: 'https://graph.microsoft.us/v1.0',
    graphDelegatedScope: 'https://graph.microsoft.us/Mail.Send',
    graphAppScope: 'https://graph.microsoft.us/.default',
  },
  china: {
    authorityHost: 'https://login.chinacloudapi.cn',
    smtpHost: 'smtp.partner.outlook.cn',
    delegatedScope: 'https://partner.outlook.cn/SMTP.Send',
    appScope: 'https://partner.outlook.cn/.default',
    graphBaseUrl: 'https://microsoftgraph.chinacloudapi.cn/v1.0',
    graphDelegatedScope: 'https://microsoftgraph.chinacloudapi.cn/Mail.Send',
    graphAppScope: 'https://microsoftgraph.chinacloudapi.cn/.default',
  },
} as const;

export type CloudName = keyof typeof CLOUDS;
export const CLOUD_NAMES = Object.keys(CLOUDS) as [CloudName, ...CloudName[]];
