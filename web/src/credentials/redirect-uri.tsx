import { useRedirectUri } from '../api/hooks.js';
import { CopyButton } from '../ui/copy-button.js';

/** The redirect URI to register with the OAuth provider, with a copy button. */
export function RedirectUri({ value }: { value?: string | undefined }) {
  const fetched = useRedirectUri();
  const uri = value ?? fetched.data?.redirectUri;
  return (
    <div className="redirect-uri">
      <span className="field-label" id="redirect-uri-label">Redirect URI</span>
      <p className="hint">Add this to the allowed redirect URIs of your app at the provider.</p>
      {uri ? (
        <div className="copy-row">
          <code aria-labelledby="redirect-uri-label">{uri}</code>
          <CopyButton text={uri} label="Copy redirect URI" />
        </div>
      ) : (
        <p>{fetched.isError ? 'The redirect URI could not be loaded.' : 'Loading…'}</p>
      )}
    </div>
  );
}
