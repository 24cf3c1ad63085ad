import { awsS3Component } from './aws-s3-component.js';
import type { Component } from './component.js';
import { dropboxComponent } from './dropbox-component.js';
import { httpComponent } from './http-component.js';
import { sftpComponent } from './sftp-component.js';

/** The components every Credence ships with. */
export const BUILT_IN_COMPONENTS: readonly Component[] = [httpComponent, sftpComponent, dropboxComponent, awsS3Component];
