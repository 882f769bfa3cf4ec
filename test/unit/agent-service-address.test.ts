// Where `appmesh-agent` is registered: the advertised URL's bare host and port (the default port of its
// scheme when the URL names none), with the scheme and metrics path in the meta Prometheus relabels.
import { expect } from 'chai';
import { agentServiceAddress } from '../../controllers/session-manager.js';

describe('agentServiceAddress', function () {
  it('takes the host and port of the advertised URL', function () {
    expect(agentServiceAddress('http://10.0.0.5:6060')).to.deep.equal({
      address: '10.0.0.5',
      port: 6060,
      meta: { scheme: 'http', metrics_path: '/metrics' },
    });
  });

  it('names the default port of the scheme, and https in the meta', function () {
    expect(agentServiceAddress('https://web-1.example/')).to.deep.equal({
      address: 'web-1.example',
      port: 443,
      meta: { scheme: 'https', metrics_path: '/metrics' },
    });
    expect(agentServiceAddress('http://web-1.example').port).to.equal(80);
  });

  it('gives an IPv6 address without brackets, and ignores a path', function () {
    expect(agentServiceAddress('http://[::1]:6061/healthz')).to.include({ address: '::1', port: 6061 });
  });
});
