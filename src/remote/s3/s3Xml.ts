/** The few S3 XML responses velo reads (ListObjectsV2, errors, multipart), parsed without a library. */

export function xmlDecode(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, e: string) => {
    switch (e) {
      case 'amp':
        return '&'
      case 'lt':
        return '<'
      case 'gt':
        return '>'
      case 'quot':
        return '"'
      case 'apos':
        return "'"
      default:
        return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10))
    }
  })
}

export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** Text of the first <tag>…</tag> in xml (decoded), or undefined. */
export function xmlText(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`).exec(xml)
  return m ? xmlDecode(m[1]) : undefined
}

/** Raw inner XML of every <tag>…</tag>. */
export function xmlBlocks(xml: string, tag: string): string[] {
  const out: string[] = []
  const re = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`, 'g')
  for (let m = re.exec(xml); m; m = re.exec(xml)) out.push(m[1])
  return out
}

export interface ListPage {
  items: {key: string; size: number; etag?: string}[]
  next?: string
}

export function parseListObjectsV2(xml: string): ListPage {
  const items = xmlBlocks(xml, 'Contents').map((c) => ({
    key: xmlText(c, 'Key') ?? '',
    size: Number(xmlText(c, 'Size') ?? 0),
    etag: unquote(xmlText(c, 'ETag')),
  }))
  const truncated = xmlText(xml, 'IsTruncated') === 'true'
  return {items, next: truncated ? xmlText(xml, 'NextContinuationToken') : undefined}
}

export function unquote(etag: string | null | undefined): string | undefined {
  if (!etag) return undefined
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '')
}

export function completeMultipartBody(parts: {number: number; etag: string}[]): string {
  const body = parts.map((p) => `<Part><PartNumber>${p.number}</PartNumber><ETag>"${xmlEscape(p.etag)}"</ETag></Part>`).join('')
  return `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${body}</CompleteMultipartUpload>`
}
