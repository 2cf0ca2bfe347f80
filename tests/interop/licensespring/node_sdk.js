// Drives LicenseSpring's official Node SDK (@licensespring/node-sdk) against a running licensd,
// with its signature checks on (v2 header and v1 body field) against licensd's RSA public key.
// Prints one JSON object with what each step observed, or the failure with a non-zero exit.
//
// Environment: LS_NODE_MODULES (path to node_modules), LS_API_PATH (http://host:port/api/v4),
// LS_API_KEY, LS_SHARED_KEY, LS_PRODUCT, LS_PUBLIC_KEY (PEM), LS_KEY, LS_FEATURE, LS_HWID,
// LS_HWID2, LS_FILE_PATH, and for the bundle part LS_BUNDLE (bundle product code) and LS_BUNDLE_KEY.
'use strict';

const path = require('path');
const { BundleManager, LicenseAPI, LicenseManager } = require(path.join(process.env.LS_NODE_MODULES, '@licensespring/node-sdk'));

const env = process.env;

function config(extra) {
  return {
    apiKey: env.LS_API_KEY,
    sharedKey: env.LS_SHARED_KEY,
    appName: 'licensd-interop',
    appVersion: '1.0.0',
    apiPath: env.LS_API_PATH,
    publicKey: env.LS_PUBLIC_KEY,
    ...extra,
  };
}

// Runs fn expecting a thrown LicenseSpring error; returns [status, code].
async function failure(fn) {
  try {
    await fn();
  } catch (error) {
    return [error.status, error.code];
  }
  throw new Error('expected an error');
}

async function main() {
  const out = {};
  const product = env.LS_PRODUCT;
  const feature = env.LS_FEATURE;
  const api = new LicenseAPI(config({ hardwareID: env.LS_HWID }));
  const ident = { product, hardware_id: env.LS_HWID, license_key: env.LS_KEY };

  const activated = await api.activateLicense({ ...ident, variables: { seat: 'node' } });
  out.activate = {
    license_key: activated.license_key,
    short_code: activated.product_details.short_code,
    times_activated: activated.times_activated,
  };
  const checked = await api.checkLicense(ident);
  out.check = { license_active: checked.license_active, license_enabled: checked.license_enabled };
  out.check_feature = (await api.checkLicenseFeature({ ...ident, feature })).code;
  out.add_consumption = (await api.addConsumption({ ...ident, consumptions: 2 })).total_consumptions;
  out.add_feature_consumption = (await api.addFeatureConsumption({ ...ident, feature, consumptions: 1 }))
    .total_consumptions;
  out.product_details = (await api.getProductDetails({ product })).short_code;
  await api.trackDeviceVariables({ ...ident, variables: { os: 'linux' } });
  out.variables = (await api.getDeviceVariables(ident)).map((row) => [row.variable, row.value]).sort();

  // Verification is really on: a foreign public key rejects licensd's signatures.
  const foreign = require('crypto')
    .generateKeyPairSync('rsa', { modulusLength: 2048 })
    .publicKey.export({ type: 'spki', format: 'pem' });
  const stranger = new LicenseAPI(config({ hardwareID: env.LS_HWID, publicKey: foreign }));
  out.foreign_key = await failure(() => stranger.checkLicense(ident));
  out.unknown_license = await failure(() => api.checkLicense({ ...ident, license_key: 'NOPE-NOPE' }));

  out.deactivate = await api.deactivateLicense(ident);
  out.check_after_deactivate = await failure(() => api.checkLicense(ident));

  // Offline: a request file as the SDK writes it, activated through the API (v1 and v2 checked),
  // the response checked again as a .lic file, then an offline deactivation.
  const offlineIdent = { product, hardware_id: env.LS_HWID, license_key: env.LS_OFFLINE_KEY };
  const online = await api.activateOffline(api.createOfflineActivationPayload(offlineIdent));
  // The .lic file is the response body as the server sent it (what an offline portal hands out);
  // the SDK strips the signatures from the object it returns, so fetch the body itself.
  const upload = await fetch(`${env.LS_API_PATH}/activate_offline`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: api.createOfflineActivationPayload(offlineIdent),
  });
  const licFile = Buffer.from(await upload.text()).toString('base64');
  out.offline = {
    online_key: online.license_key,
    license_key: api.checkOfflineActivationResponse(licFile).license_key,
    deactivated: await api.deactivateOffline(api.createOfflineDeactivationPayload(offlineIdent)),
  };

  // The high-level manager: activate, load from its file, local check, online check, deactivate.
  const manager = new LicenseManager(
    config({ productCode: product, filePath: env.LS_FILE_PATH, hardwareID: env.LS_HWID2 }),
  );
  await manager.activateLicense({ license_key: env.LS_KEY });
  const license = manager.loadLicense();
  await license.localCheck();
  const managed = await manager.checkLicense({ license_key: env.LS_KEY });
  out.manager = {
    license_active: managed.license_active,
    deactivated: await manager.deactivateLicense({ license_key: env.LS_KEY }),
  };

  // Bundles: LicenseAPI checks v1 on every license of the array and v2 over the whole array.
  const bundleIdent = { product: env.LS_BUNDLE, hardware_id: env.LS_HWID, license_key: env.LS_BUNDLE_KEY };
  const bundleActivated = await api.activateBundle(bundleIdent);
  out.bundle = { activate: bundleActivated.map((row) => row.product_details.short_code) };
  out.bundle.check = (await api.checkBundle(bundleIdent)).map((row) => [row.product_details.short_code, row.license_active]);
  out.bundle.not_bundle = await failure(() => api.activateBundle({ ...bundleIdent, product }));
  out.bundle.deactivate = await api.deactivateBundle(bundleIdent);
  out.bundle.check_after_deactivate = await failure(() => api.checkBundle(bundleIdent));
  const bundles = new BundleManager(
    config({ productCode: env.LS_BUNDLE, filePath: path.join(env.LS_FILE_PATH, 'bundle'), hardwareID: env.LS_HWID2 }),
  );
  const managedBundle = await bundles.activateBundle({ license_key: env.LS_BUNDLE_KEY });
  const checkedBundle = await bundles.checkBundle({ license_key: env.LS_BUNDLE_KEY });
  out.bundle.manager = {
    activate: managedBundle.map((row) => row.product_details.short_code),
    check: checkedBundle.map((row) => row.license_enabled && row.license_active),
    deactivated: await bundles.deactivateBundle({ license_key: env.LS_BUNDLE_KEY }),
  };
  return out;
}

main().then(
  (out) => {
    console.log(JSON.stringify(out));
  },
  (error) => {
    console.error(error && error.stack ? error.stack : JSON.stringify(error));
    process.exit(1);
  },
);
