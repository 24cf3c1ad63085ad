import type { Config } from './config/config.js';
import { systemClock, type Clock } from './common/clock.js';
import { createLocalKeyProvider } from './crypto/key-provider.js';
import { loadMasterKey, type MasterKeyLog } from './crypto/master-key.js';
import { migrateToLatest, openDatabase, pingDatabase, type StoreHandle } from './store/database.js';
import { createMailer, createServices, type Services } from './services.js';

export interface Runtime {
  config: Config;
  store: StoreHandle;
  services: Services;
  /** True when the database answers and the keys are loaded. */
  isReady(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Opens everything a Credence process needs: the root key, the database (migrated to the
 * latest schema) and the services. Refuses to go on when the root key does not open the
 * stored data keys.
 */
export const openRuntime = async (
  config: Config,
  log: MasterKeyLog,
  options: { clock?: Clock; fetch?: typeof fetch } = {},
): Promise<Runtime> => {
  const clock = options.clock ?? systemClock;
  const rootKey = await loadMasterKey(config.masterKey, log);
  const previousKeys = config.previousMasterKeys.map((key) => Buffer.from(key.reveal()));
  const keyProvider = createLocalKeyProvider(rootKey, previousKeys);
  rootKey.fill(0);
  for (const key of previousKeys) key.fill(0);
  const store = openDatabase(config.database);
  try {
    await migrateToLatest(store.db);
    await store.auditWriter?.ready();
    const mailer = createMailer({ smtpUrl: config.mail.smtpUrl?.reveal(), from: config.mail.from, outboxDir: config.mail.outboxDir, clock });
    const services = createServices({
      db: store.db,
      engine: store.engine,
      auditWriter: store.auditWriter,
      keyProvider,
      clock,
      allowInsecureLoopback: config.allowInsecureLoopback,
      outboundAllowedNetworks: config.outboundAllowedNetworks,
      expiryWarningDays: config.expiryWarningDays,
      publicUrl: config.publicUrl,
      mailer,
      refresh: config.refresh,
      emailLimits: config.emailLimits,
      apiTokenCacheMs: config.apiTokenCacheMs,
      credentialChanges: store.credentialChanges,
      credentialCacheSize: config.credentialCacheSize,
      keys: config.keys,
      runs: config.runs,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    await services.keyring.verifyRootKey();
    for (const line of await services.migrateDestinations()) log.warn(`Sealed destinations derived for ${line}`);
    const sealed = await services.sealClearCustomerData();
    if (sealed.lastTests + sealed.runs > 0) log.warn(`Sealed with their customers' keys: ${sealed.runs} runs and ${sealed.lastTests} credential tests kept in clear by an earlier version`);
    let closed = false;
    return {
      config,
      store,
      services,
      isReady: async () => !closed && (await pingDatabase(store.db)),
      async close() {
        closed = true;
        await services.refreshWorker.stop();
        await services.healthCheckWorker.stop();
        await services.webhookWorker.stop();
        await services.expiryWatch.stop();
        await services.alertMailer.stop();
        await services.keyRotationWorker.stop();
        await services.runRetention.stop();
        // Counts still in memory are written down before the database closes.
        await services.encryptionCounter.flush();
        mailer.close();
        services.keyring.close();
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
};
