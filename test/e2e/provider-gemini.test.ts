import { describeProvider } from './provider-modes';

describeProvider('gemini');
