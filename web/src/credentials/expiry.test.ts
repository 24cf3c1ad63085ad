import { describe, expect, it } from 'vitest';
import { countdown, dateInputOf, isoOfDateInput, sortByExpiry } from './expiry.js';

const NOW = Date.parse('2025-06-10T14:30:00.000Z');
const day = (offset: number) => new Date(Date.parse('2025-06-10T00:00:00.000Z') + offset * 86_400_000).toISOString();

describe('the expiry countdown', () => {
  it('counts whole days to a date, so a date five days ahead reads five days all day', () => {
    expect(countdown(day(5), NOW)).toEqual({ text: 'Expires in 5 days', tone: 'error' });
    expect(countdown(day(5), Date.parse('2025-06-10T00:00:01.000Z')).text).toBe('Expires in 5 days');
    expect(countdown(day(5), Date.parse('2025-06-10T23:59:59.000Z')).text).toBe('Expires in 5 days');
    expect(countdown(day(1), NOW).text).toBe('Expires in 1 day');
  });

  it('is an error within 7 days, a warning within 30 and neutral beyond', () => {
    expect(countdown(day(7), NOW).tone).toBe('error');
    expect(countdown(day(8), NOW)).toEqual({ text: 'Expires in 8 days', tone: 'warn' });
    expect(countdown(day(30), NOW).tone).toBe('warn');
    expect(countdown(day(31), NOW)).toEqual({ text: 'Expires in 31 days', tone: 'neutral' });
  });

  it('says how long ago a date passed, as an error', () => {
    expect(countdown(day(0), NOW)).toEqual({ text: 'Expired today', tone: 'error' });
    expect(countdown(day(-1), NOW)).toEqual({ text: 'Expired 1 day ago', tone: 'error' });
    expect(countdown(day(-3), NOW)).toEqual({ text: 'Expired 3 days ago', tone: 'error' });
  });

  it('names the client secret when it is the app secret that expires', () => {
    expect(countdown(day(20), NOW, 'client secret')).toEqual({ text: 'Client secret expires in 20 days', tone: 'warn' });
    expect(countdown(day(-2), NOW, 'client secret').text).toBe('Client secret expired 2 days ago');
  });
});

describe('sorting by expiry', () => {
  it('puts the earliest of either date first and credentials without a date last, in their order', () => {
    const items = [
      { id: 'none-1', expiresAt: null, clientSecretExpiresAt: null },
      { id: 'in-20', expiresAt: day(20), clientSecretExpiresAt: null },
      { id: 'secret-in-3', expiresAt: day(90), clientSecretExpiresAt: day(3) },
      { id: 'none-2', expiresAt: null, clientSecretExpiresAt: null },
      { id: 'past', expiresAt: day(-4), clientSecretExpiresAt: null },
    ];
    expect(sortByExpiry(items).map((item) => item.id)).toEqual(['past', 'secret-in-3', 'in-20', 'none-1', 'none-2']);
  });
});

describe('expiry dates in a date input', () => {
  it('keeps a chosen day as midnight UTC and shows it back as the same day', () => {
    expect(isoOfDateInput('2025-06-15')).toBe('2025-06-15T00:00:00.000Z');
    expect(isoOfDateInput('')).toBeNull();
    expect(dateInputOf('2025-06-15T00:00:00.000Z')).toBe('2025-06-15');
    expect(dateInputOf(null)).toBe('');
  });
});
