/**
 * Case folding for address comparison, on ASCII letters only.
 *
 * Exchange compares SMTP addresses without regard to ASCII case (RFC 5321 2.4 leaves local
 * parts case-sensitive in general; Exchange proxy addresses are not). JavaScript's
 * toLowerCase() folds all of Unicode: the Kelvin sign U+212A becomes "k" and "İ" becomes
 * "i̇", so "\u212Aate@contoso.example" would match the allowed "kate@contoso.example" here while
 * Exchange sees another address. Folding A-Z only keeps the two views the same.
 */
export function asciiLowerCase(text: string): string {
  return text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}
