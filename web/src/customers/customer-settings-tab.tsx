import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import { api } from '../api/client.js';
import { keys } from '../api/query-keys.js';
import { ErrorMessage, LiveRegion } from '../ui/feedback.js';
import { Field } from '../ui/field.js';
import { TypedConfirmation } from '../ui/typed-confirmation.js';
import { useCustomerOfPage } from './customer-page.js';

function RenameForm() {
  const customer = useCustomerOfPage();
  const queryClient = useQueryClient();
  const [name, setName] = useState(customer.name);
  const [externalId, setExternalId] = useState(customer.externalId ?? '');
  const save = useMutation({
    mutationFn: () => api.customers.update(customer.id, { name: name.trim(), externalId: externalId.trim() || null }),
    onSuccess: (updated) => {
      queryClient.setQueryData(keys.customer(updated.id), updated);
      void queryClient.invalidateQueries({ queryKey: keys.customers });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  const dirty = name.trim() !== customer.name || (externalId.trim() || null) !== customer.externalId;
  return (
    <form className="panel stack" onSubmit={submit} aria-labelledby="rename-heading">
      <h2 id="rename-heading">Name</h2>
      <ErrorMessage error={save.error} />
      <div className="form-row">
        <Field label="Customer name">{(ids) => <input {...ids} required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />}</Field>
        <Field label="External ID">{(ids) => <input {...ids} maxLength={200} value={externalId} onChange={(e) => setExternalId(e.target.value)} />}</Field>
      </div>
      <div className="button-row">
        <button type="submit" className="button primary" disabled={!dirty || save.isPending}>{save.isPending ? 'Saving…' : 'Save'}</button>
        <span aria-live="polite">{save.isSuccess && !dirty ? 'Saved.' : ''}</span>
      </div>
    </form>
  );
}

/** A customer's Settings tab: rename it, or delete it with everything stored for it. */
export function CustomerSettingsTab() {
  const customer = useCustomerOfPage();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const remove = useMutation({
    mutationFn: (confirm: string) => api.customers.remove(customer.id, confirm),
    onSuccess: () => {
      queryClient.removeQueries({ queryKey: keys.customer(customer.id) });
      void queryClient.invalidateQueries({ queryKey: keys.customers });
      void queryClient.invalidateQueries({ queryKey: keys.credentials });
      void queryClient.invalidateQueries({ queryKey: keys.instances });
      void navigate('/customers', { replace: true });
    },
  });
  return (
    <div className="stack">
      <RenameForm key={customer.updatedAt} />
      <section className="panel danger-zone" aria-labelledby="delete-customer-heading">
        <h2 id="delete-customer-heading">Delete customer</h2>
        <p className="alert alert-warning">
          Deleting <strong>{customer.name}</strong> deletes every credential stored for it and destroys its encryption key: those values can never be recovered.
        </p>
        <TypedConfirmation name={customer.name} noun="customer" buttonText="DELETE CUSTOMER" pending={remove.isPending} onConfirm={(typed) => remove.mutate(typed)} />
        <LiveRegion>
          <ErrorMessage error={remove.error} title="The customer was not deleted." />
        </LiveRegion>
      </section>
    </div>
  );
}
