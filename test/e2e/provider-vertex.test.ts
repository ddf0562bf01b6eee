import { describeProvider } from './provider-modes';

describeProvider('vertex');
