import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { ApiResponse, TestApp } from '../support/test-app.js';

/** Shared by the HTTP tests of credentials and access: sample values, helpers, leak checks. */
export const API = '/api/v1';

export const AUTH_METHOD_KEYS = ['api_key_secret', 'basic', 'private_key', 'api_key', 'oauth2'] as const;
export type MethodKey = (typeof AUTH_METHOD_KEYS)[number];

/** Names of the oauth2 fields whose values may be shown back. */
export const SHOWN_OAUTH2_FIELDS = ['client_id', 'scopes', 'auth_uri', 'token_uri'] as const;

/** A value that cannot occur anywhere by accident, so finding it in a response means it leaked. */
export const uniqueValue = (name: string): string => `${name}-${randomBytes(12).toString('hex')}`;

export const ed25519KeyPair = () =>
  generateKeyPairSync('ed25519', {
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });

export const rsaPkcs1KeyPair = () =>
  generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });

export interface Sample {
  authMethod: MethodKey;
  fields: Record<string, string>;
  /** Values that must never be returned by a management route. */
  secrets: string[];
  /** Values that are returned as `fields[name].value`. */
  shown: Record<string, string>;
}

/** Complete, valid field values for a method; every value is unique to this call. */
export const sampleFor = (authMethod: MethodKey, options: { privateKey?: string } = {}): Sample => {
  switch (authMethod) {
    case 'api_key_secret': {
      const fields = { api_key: uniqueValue('AKIA'), api_secret: uniqueValue('aws-secret') };
      return { authMethod, fields, secrets: Object.values(fields), shown: {} };
    }
    case 'basic': {
      const fields = { username: uniqueValue('ftp-user'), password: uniqueValue('ftp-password') };
      return { authMethod, fields, secrets: Object.values(fields), shown: {} };
    }
    case 'private_key': {
      const fields = { username: uniqueValue('sftp-user'), private_key: options.privateKey ?? ed25519KeyPair().privateKey };
      return { authMethod, fields, secrets: Object.values(fields), shown: {} };
    }
    case 'api_key': {
      const fields = { api_key: uniqueValue('jwt') };
      return { authMethod, fields, secrets: Object.values(fields), shown: {} };
    }
    case 'oauth2': {
      const shown = {
        client_id: uniqueValue('client-id'),
        scopes: 'files.content.read files.content.write',
        auth_uri: 'https://auth.example.test/oauth2/authorize',
        token_uri: 'https://auth.example.test/oauth2/token',
      };
      const secret = uniqueValue('client-secret');
      return { authMethod, fields: { ...shown, client_secret: secret }, secrets: [secret], shown };
    }
  }
};

/**
 * The pieces of a secret that would show up in JSON if it leaked: the value itself, or
 * for a multi-line PEM key each line of its body (JSON escapes the newlines between them).
 */
const fragmentsOf = (secret: string): string[] =>
  secret.includes('\n') ? secret.split('\n').filter((line) => line.length >= 16 && !line.startsWith('-----')) : [secret];

/** Asserts with booleans only, so a failure never prints the secret it found. */
export const expectNoSecrets = (text: string, secrets: string[]): void => {
  for (const secret of secrets) {
    for (const fragment of fragmentsOf(secret)) {
      expect(text.includes(fragment), 'a secret value appears in the text').toBe(false);
    }
  }
};

export const expectError = (response: ApiResponse, status: number, code: string): void => {
  expect({ status: response.status, code: response.body?.error?.code }).toEqual({ status, code });
  expect(Object.keys(response.body)).toEqual(['error']);
  expect(typeof response.body.error.message).toBe('string');
};

export const createCustomer = async (t: TestApp, name: string, token = t.adminToken): Promise<string> => {
  const response = await t.request('POST', `${API}/customers`, { token, body: { name } });
  expect(response.status).toBe(201);
  return response.body.id as string;
};

export const createCredential = async (
  t: TestApp,
  input: { label: string; sample: Sample; customerId?: string },
  token = t.adminToken,
): Promise<{ id: string; body: any }> => {
  const response = await t.request('POST', `${API}/credentials`, {
    token,
    body: {
      label: input.label,
      authMethod: input.sample.authMethod,
      fields: input.sample.fields,
      ...(input.customerId ? { customerId: input.customerId } : {}),
    },
  });
  expect(response.status).toBe(201);
  return { id: response.body.id as string, body: response.body };
};

/** Every credential a token can list with a query, following cursors to the end. */
export const listAll = async (t: TestApp, query = '', token = t.adminToken): Promise<any[]> => {
  const items: any[] = [];
  let cursor: string | null = null;
  do {
    const params = new URLSearchParams(query);
    params.set('limit', '200');
    if (cursor) params.set('cursor', cursor);
    const response = await t.request('GET', `${API}/credentials?${params.toString()}`, { token });
    expect(response.status).toBe(200);
    items.push(...response.body.items);
    cursor = response.body.nextCursor;
  } while (cursor);
  return items;
};

export const resolve = (t: TestApp, id: string, token: string): Promise<ApiResponse> =>
  t.request('POST', `${API}/credentials/${id}/resolve`, { token });

/** An id shaped like a real one that names nothing. */
export const unknownCredentialId = (): string => `cred_${randomBytes(14).toString('hex')}`;
