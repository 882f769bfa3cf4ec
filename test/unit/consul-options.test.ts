// Consul connection settings from options and CONSUL_* variables, read as Consul's CLI reads them.
import { expect } from 'chai';
import { consulOptionsFromEnv, parseConsulAddress } from '../../src/consul/options.js';

describe('consul options', function () {
  it('defaults to the local agent over http', function () {
    expect(consulOptionsFromEnv({})).to.deep.equal({ address: '127.0.0.1:8500' });
    expect(parseConsulAddress('127.0.0.1:8500')).to.deep.equal({
      origin: 'http://127.0.0.1:8500',
      secure: false,
      display: 'http://127.0.0.1:8500',
    });
  });

  it('reads address, token and TLS files from the environment', function () {
    const options = consulOptionsFromEnv({
      CONSUL_HTTP_ADDR: 'https://consul.example:8501',
      CONSUL_HTTP_TOKEN: 'secret',
      CONSUL_CACERT: '/etc/ca.pem',
      CONSUL_CLIENT_CERT: '/etc/cert.pem',
      CONSUL_CLIENT_KEY: '/etc/key.pem',
      CONSUL_TLS_SERVER_NAME: 'server.dc1.consul',
      CONSUL_HTTP_SSL_VERIFY: 'false',
    });
    expect(options).to.deep.equal({
      address: 'https://consul.example:8501',
      token: 'secret',
      tls: {
        caFile: '/etc/ca.pem',
        certFile: '/etc/cert.pem',
        keyFile: '/etc/key.pem',
        serverName: 'server.dc1.consul',
        verify: false,
      },
    });
  });

  it('uses https for a bare address when CONSUL_HTTP_SSL is set', function () {
    const options = consulOptionsFromEnv({ CONSUL_HTTP_ADDR: '10.0.0.1:8501', CONSUL_HTTP_SSL: 'true' });
    expect(parseConsulAddress(options.address)).to.include({ origin: 'https://10.0.0.1:8501', secure: true });
  });

  it('reads the token from CONSUL_HTTP_TOKEN_FILE when no token is given', function () {
    const options = consulOptionsFromEnv({ CONSUL_HTTP_TOKEN_FILE: '/run/token' }, {}, (path) => {
      expect(path).to.equal('/run/token');
      return 'from-file\n';
    });
    expect(options.token).to.equal('from-file');
  });

  it('lets explicit options win over the environment', function () {
    const options = consulOptionsFromEnv(
      { CONSUL_HTTP_ADDR: 'env:8500', CONSUL_HTTP_TOKEN: 'env-token' },
      { address: 'http://flag:8500', token: 'flag-token' },
    );
    expect(options).to.include({ address: 'http://flag:8500', token: 'flag-token' });
  });

  it('supports unix sockets', function () {
    expect(parseConsulAddress('unix:///var/run/consul.sock')).to.deep.equal({
      origin: 'http://localhost',
      socketPath: '/var/run/consul.sock',
      secure: false,
      display: 'unix:///var/run/consul.sock',
    });
  });

  it('explains bad values', function () {
    expect(() => consulOptionsFromEnv({ CONSUL_HTTP_SSL: 'maybe' })).to.throw(
      'CONSUL_HTTP_SSL: expected a boolean',
    );
    expect(() => parseConsulAddress('ftp://x:1')).to.throw('unsupported scheme ftp:');
    expect(() => parseConsulAddress('unix://')).to.throw('names no socket path');
    expect(() =>
      consulOptionsFromEnv({ CONSUL_HTTP_TOKEN_FILE: '/nope' }, {}, () => {
        throw new Error('ENOENT');
      }),
    ).to.throw('CONSUL_HTTP_TOKEN_FILE /nope could not be read: ENOENT');
  });
});
