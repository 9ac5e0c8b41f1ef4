import {describe, expect, it} from 'vitest'
import {completeMultipartBody, parseListObjectsV2, unquote, xmlText} from './s3Xml.js'

describe('S3 XML', () => {
  it('parses ListObjectsV2 pages', () => {
    const xml = '<?xml version="1.0"?><ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>p/a&amp;b</Key><Size>12</Size><ETag>&quot;abc&quot;</ETag></Contents><Contents><Key>p/c</Key><Size>0</Size></Contents><NextContinuationToken>tok/+=</NextContinuationToken></ListBucketResult>'
    expect(parseListObjectsV2(xml)).toEqual({items: [{key: 'p/a&b', size: 12, etag: 'abc'}, {key: 'p/c', size: 0, etag: undefined}], next: 'tok/+='})
    expect(parseListObjectsV2('<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>')).toEqual({items: [], next: undefined})
  })

  it('reads error codes and etags', () => {
    expect(xmlText('<Error><Code>SignatureDoesNotMatch</Code><Message></Message></Error>', 'Code')).toBe('SignatureDoesNotMatch')
    expect(unquote('"d41d8cd9-3"')).toBe('d41d8cd9-3')
    expect(unquote('W/"x"')).toBe('x')
    expect(unquote(null)).toBeUndefined()
  })

  it('writes the multipart completion', () => {
    expect(completeMultipartBody([{number: 1, etag: 'a'}, {number: 2, etag: 'b'}])).toContain('<Part><PartNumber>2</PartNumber><ETag>"b"</ETag></Part>')
  })
})
