// `appmesh agent`: loads the configuration, starts the agent and runs until SIGTERM/SIGINT, then shuts
// down cleanly (apps stopped, nothing left behind) and exits 0.
import { Agent } from '../agent/agent.js';
import { loadAgentConfig, type AgentFlags } from '../agent/config.js';

export async function agentCommand(flags: AgentFlags): Promise<void> {
  const config = await loadAgentConfig(flags);
  // Before anything is built, so a wrong CA or a missing client certificate is a one-line exit 1.
  if (config.cluster) {
    const { checkConsulTls } = await import('../agent/cluster-mode.js');
    await checkConsulTls(config.cluster.consul);
  }
  const agent = await Agent.create(config);
  await agent.start();
  agent.logger.info('agent started', {
    mode: config.cluster ? 'cluster' : 'stand-alone',
    url: agent.url,
    dataDir: config.dataDir,
    ...(config.cluster ? { node: config.cluster.nodeName, consul: agent.cluster?.consul.address } : {}),
  });
  await agent.manager.stopOnSignals();
  await agent.stop();
  agent.logger.info('agent stopped');
}
