import {describe, expect, it} from 'vitest'
import {formatRemoteUrl, parseRemoteUrl} from './remoteUrl.js'

describe('parseRemoteUrl', () => {
  it('knows directories, file URLs and s3 URLs', () => {
    expect(parseRemoteUrl('rel/dir', '/base')).toEqual({kind: 'file', path: '/base/rel/dir'})
    expect(parseRemoteUrl('file:///srv/velo')).toEqual({kind: 'file', path: '/srv/velo'})
    expect(parseRemoteUrl('s3://my-bucket')).toEqual({kind: 's3', bucket: 'my-bucket', prefix: ''})
    expect(parseRemoteUrl('s3://my-bucket//ci/velo/')).toEqual({kind: 's3', bucket: 'my-bucket', prefix: 'ci/velo'})
    expect(formatRemoteUrl(parseRemoteUrl('s3://b-1/x/'))).toBe('s3://b-1/x')
  })

  it('rejects credentials in URLs, odd buckets and other schemes', () => {
    expect(() => parseRemoteUrl('s3://AK:SECRET@bucket/x')).toThrow(/credentials do not belong/)
    expect(() => parseRemoteUrl('s3://B/x')).toThrow(/not a bucket name/)
    expect(() => parseRemoteUrl('s3://bucket/../x')).toThrow(/not allowed/)
    expect(() => parseRemoteUrl('https://example.com/x')).toThrow(/unsupported scheme https/)
  })
})
